// Synthetic PRISM-schema and GOQA-schema data with a planted, documented cultural signal (see docs/SYNTHETIC.md).
import Papa from 'papaparse';
import { Rng } from '../rng.ts';
import type { PreferenceData } from '../types.ts';
import type { LoadOptions } from './options.ts';
import { buildPrism } from './prism.ts';
import { pyRepr } from './pylit.ts';
import { memoryRows } from './rows.ts';

// ---------------------------------------------------------------------------------------------------------------
// Planted truth. Words are common lowercase GloVe words (all within the 20k most frequent), ~12 per pole, so a
// model must generalise through word vectors rather than memorise a handful of tokens.

export interface PlantedDimension {
  name: string;
  /** Pole A is the positive direction of the dimension, pole B the negative one. */
  poles: readonly [{ label: string; words: readonly string[] }, { label: string; words: readonly string[] }];
}

const DIMENSIONS: readonly PlantedDimension[] = [
  {
    name: 'tradition_vs_modern',
    poles: [
      {
        label: 'tradition',
        words: ['tradition', 'traditional', 'family', 'elders', 'heritage', 'ancestors', 'customs', 'history', 'roots', 'generations', 'ancient', 'ancestral'],
      },
      {
        label: 'modern',
        words: ['modern', 'innovation', 'progress', 'future', 'technology', 'innovative', 'reform', 'latest', 'digital', 'trends', 'contemporary', 'advanced'],
      },
    ],
  },
  {
    name: 'community_vs_independence',
    poles: [
      {
        label: 'community',
        words: ['community', 'together', 'neighbors', 'shared', 'cooperation', 'society', 'collective', 'group', 'solidarity', 'mutual', 'belonging', 'neighbours'],
      },
      {
        label: 'independence',
        words: ['independence', 'personal', 'individual', 'yourself', 'freedom', 'self', 'independent', 'choice', 'alone', 'ambition', 'autonomy', 'privacy'],
      },
    ],
  },
  {
    name: 'faith_vs_science',
    poles: [
      {
        label: 'faith',
        words: ['faith', 'religion', 'god', 'prayer', 'church', 'spiritual', 'belief', 'blessing', 'religious', 'worship', 'pray', 'soul'],
      },
      {
        label: 'science',
        words: ['science', 'evidence', 'research', 'data', 'scientific', 'experiment', 'facts', 'study', 'analysis', 'proof', 'scientists', 'logic'],
      },
    ],
  },
  {
    name: 'government_vs_market',
    poles: [
      {
        label: 'government',
        words: ['government', 'public', 'state', 'regulation', 'welfare', 'policy', 'federal', 'taxes', 'council', 'subsidies', 'ministry', 'officials'],
      },
      {
        label: 'market',
        words: ['business', 'market', 'private', 'companies', 'profit', 'competition', 'enterprise', 'investors', 'commercial', 'trade', 'entrepreneurs', 'markets'],
      },
    ],
  },
  {
    name: 'nature_vs_economy',
    poles: [
      {
        label: 'nature',
        words: ['nature', 'climate', 'environment', 'forest', 'wildlife', 'ocean', 'green', 'trees', 'pollution', 'conservation', 'planet', 'rivers'],
      },
      {
        label: 'economy',
        words: ['economy', 'jobs', 'growth', 'industry', 'wages', 'employment', 'income', 'economic', 'workers', 'factories', 'prosperity', 'productivity'],
      },
    ],
  },
  {
    name: 'formal_vs_casual',
    poles: [
      {
        label: 'formal',
        words: ['polite', 'formal', 'please', 'grateful', 'sincerely', 'manners', 'dear', 'proper', 'kindly', 'respect', 'gentle', 'thank'],
      },
      {
        label: 'casual',
        words: ['casual', 'relaxed', 'hey', 'cool', 'chill', 'fun', 'easy', 'informal', 'awesome', 'guys', 'yeah', 'okay'],
      },
    ],
  },
];

/** PRISM's own per-country user counts for these nine countries. */
const COUNTRY_USERS: Readonly<Record<string, number>> = {
  'United States': 386,
  'United Kingdom': 340,
  'South Africa': 86,
  'New Zealand': 77,
  Australia: 72,
  Mexico: 67,
  Chile: 65,
  Israel: 61,
  Canada: 54,
};

/** Shared by United States and United Kingdom. Positive = pole A (tradition, community, faith, government, nature, formal). */
const MAJORITY_VECTOR: readonly number[] = [-0.5, -0.4, -0.6, -0.4, 0.3, -0.3];

/** Each minority's values on its 2-3 divergent dimensions (at divergence 1); elsewhere it equals the majority. */
const MINORITY_TARGETS: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  'South Africa': { 0: 0.8, 1: 0.9, 2: 0.7 },
  'New Zealand': { 1: 0.5, 4: 1.2 },
  Australia: { 3: 0.6, 5: -1.3 },
  Mexico: { 0: 0.9, 2: 0.8, 5: 0.8 },
  Chile: { 1: 0.8, 3: 0.9 },
  Israel: { 2: 0.8, 3: -1.2, 5: -1.0 },
  Canada: { 3: 0.8, 4: 1.2 },
};

const QUALITY_WORDS = {
  good: ['clear', 'specific', 'practical', 'detailed', 'helpful', 'useful', 'simple', 'concrete', 'careful', 'thorough', 'accurate', 'reliable'],
  bad: ['vague', 'unclear', 'confusing', 'unsure', 'random', 'sloppy', 'wrong', 'useless', 'lazy', 'poor', 'messy', 'careless'],
} as const;

const LOCATIONS: Readonly<Record<string, { region: string; subregion: string }>> = {
  'United States': { region: 'Americas', subregion: 'Northern America' },
  'United Kingdom': { region: 'Europe', subregion: 'Northern Europe' },
  'South Africa': { region: 'Africa', subregion: 'Sub-Saharan Africa' },
  'New Zealand': { region: 'Oceania', subregion: 'Australia and New Zealand' },
  Australia: { region: 'Oceania', subregion: 'Australia and New Zealand' },
  Mexico: { region: 'Americas', subregion: 'Latin America and the Caribbean' },
  Chile: { region: 'Americas', subregion: 'Latin America and the Caribbean' },
  Israel: { region: 'Asia', subregion: 'Western Asia' },
  Canada: { region: 'Americas', subregion: 'Northern America' },
};

/** Country vectors at a given divergence strength (1 = the planted default, 0 = every country like the majority). */
export function plantedCountryVectors(divergence = 1): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const country of Object.keys(COUNTRY_USERS)) {
    const target = MINORITY_TARGETS[country] ?? {};
    out[country] = MAJORITY_VECTOR.map((m, d) => (d in target ? m + divergence * (target[d] - m) : m));
  }
  return out;
}

/** The planted truth, for the studio to display next to what the models learn. */
export const PLANTED = {
  dimensions: DIMENSIONS,
  majority: ['United States', 'United Kingdom'] as readonly string[],
  majorityVector: MAJORITY_VECTOR,
  minorityTargets: MINORITY_TARGETS,
  /** Country vectors at the default divergence (1). */
  countryVectors: plantedCountryVectors(1),
  countryUsers: COUNTRY_USERS,
  qualityWords: QUALITY_WORDS,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Knobs

export interface SyntheticOptions {
  /** Std of per-rating noise, in score points (scores are 1-100). Default 8. */
  noise?: number;
  /** Std of each user's deviation from their country vector, per dimension. Default 0.4. */
  userSpread?: number;
  /** How far minorities move from the majority towards their targets on divergent dimensions. 0 = none. Default 1. */
  divergence?: number;
  /** Conversations per user, uniform integer in [min, max]. Default [2, 4] (mean 3). */
  conversations?: readonly [number, number];
  /** Later turns per conversation, uniform integer in [0, maxLaterTurns]. Default 2 (mean 1). */
  maxLaterTurns?: number;
  /** Score points per unit of the shared quality component (q ~ N(0,1)). Default 10. */
  qualityWeight?: number;
  /** Score points per unit of user preference . response profile. Default 12. */
  valueWeight?: number;
  /** Multiplies every country's user count (rounded, at least 2), for small fast sets. Default 1. */
  scale?: number;
}

export const SYNTHETIC_DEFAULTS: Required<SyntheticOptions> = {
  noise: 8,
  userSpread: 0.4,
  divergence: 1,
  conversations: [2, 4],
  maxLaterTurns: 2,
  qualityWeight: 10,
  valueWeight: 12,
  scale: 1,
};

// ---------------------------------------------------------------------------------------------------------------
// Text. Filler never uses a pole or quality word (a test checks), so only planted words carry the signal.

// No "a" or "I": the GloVe vocabulary the bundled RM uses has no single-letter words, so they would become [UNK].
const TOPICS = [
  'cooking dinner at home',
  'saving money each month',
  'learning another language',
  'planning the summer holiday',
  'getting better sleep',
  'growing vegetables at home',
  'finding better work',
  'raising young children',
  'buying my first car',
  'moving to another city',
  'staying healthy in winter',
  'using social media less',
  'choosing the right school',
  'looking after my dog',
  'training for the marathon',
  'planning my birthday party',
  'dealing with stress at work',
  'working from home',
  'reading more books',
  'making friends as an adult',
  'keeping the house clean',
  'learning to play the guitar',
  'eating less sugar',
  'preparing for my interview',
  'visiting older relatives',
  'spending less time on the phone',
  'writing better letters',
  'organising my wedding',
  'taking care of my sick parent',
  'choosing what to learn next',
];

const PROMPTS = [
  'What is the best way to start with {t} as someone new to it?',
  'Can you give me some advice about {t} for the next few months?',
  'My thoughts keep coming back to {t}. What should come first?',
  'How do most people approach {t}, and what would you recommend?',
  'My friend asked me about {t} and there was nothing to say.',
  'What are the most important things to consider about {t}?',
  'Is it worth spending time on {t} when life is already busy?',
  'Could you help me with {t}? Where should we begin?',
];

const FOLLOW_UPS = [
  'Thanks. Could you say more about {t} and what to do first?',
  'That makes sense. What would you do differently about {t}?',
  'Can you give me the short version about {t} with one main point?',
  'Interesting. What do other people usually miss about {t}?',
];

const OPENINGS = [
  'There are some things to keep in mind about {t}.',
  'When it comes to {t}, it helps to think before you act.',
  'Good question, many people ask the same thing about {t}.',
  'Here are some thoughts on {t} that might help.',
];

const VALUE_ONE = ['Think about {a} here.', 'So much of this comes down to {a}.', 'It is worth keeping {a} in mind.', 'Do not forget about {a}.'];
const VALUE_TWO = [
  'Think about {a} and {b} here.',
  'It really comes down to {a} and {b}.',
  'Try to keep {a} and {b} in mind.',
  'Both {a} and {b} matter in this case.',
];
const QUALITY_FRAMES = ['Overall this advice is {a} and {b}.', 'My answer here is {a} and {b}.', 'This plan is {a} and {b}.'];

const FILLERS = [
  'You can start small and see what works.',
  'Most people get better at this with practice.',
  'It depends on the situation and the goal.',
  'Try to set aside some time each day.',
  'Wait two or three weeks before you decide.',
  'Write down what you want to achieve first.',
  'Small steps add up over time.',
  'Go slowly and do not rush.',
  'Let me know how it goes.',
];

/** Every fixed sentence the generator can emit (for the vocabulary test). */
export const SYNTHETIC_TEMPLATES = {
  topics: TOPICS,
  prompts: [...PROMPTS, ...FOLLOW_UPS],
  responses: [...OPENINGS, ...VALUE_ONE, ...VALUE_TWO, ...QUALITY_FRAMES, ...FILLERS],
} as const;

const MODELS: readonly (readonly [string, string])[] = [
  ['gpt-4', 'openai'],
  ['gpt-3.5-turbo', 'openai'],
  ['claude-2.1', 'anthropic'],
  ['claude-instant-1', 'anthropic'],
  ['llama-2-70b-chat', 'meta'],
  ['mistral-7b-instruct', 'mistralai'],
  ['command', 'cohere'],
  ['palm-2', 'google'],
  ['zephyr-7b-beta', 'huggingfaceh4'],
  ['falcon-7b-instruct', 'tiiuae'],
];
const CONVERSATION_TYPES = ['unguided', 'values guided', 'controversy guided'];
const AGES = ['18-24 years old', '25-34 years old', '35-44 years old', '45-54 years old', '55-64 years old', '65+ years old'];
const GENDERS = ['Male', 'Female', 'Non-binary / third gender'];
const EDUCATION = ['Completed Secondary School', 'Vocational', 'University Bachelors Degree', 'Graduate / Professional degree'];
const EMPLOYMENT = ['Working full-time', 'Working part-time', 'Student', 'Retired', 'Unemployed, seeking work'];
const MARITAL = ['Never been married', 'Married', 'Divorced / Separated', 'Widowed'];
const ENGLISH = ['Native speaker', 'Fluent', 'Advanced'];

const compiled = new Map<string, string[]>();

/** Template parts are split once and cached: the default set fills ~100k templates and must stay well under 1 s. */
function fill(template: string, vars: Readonly<Record<string, string>>): string {
  let parts = compiled.get(template);
  if (!parts) {
    // Odd indices are placeholder names.
    parts = template.split(/\{(\w+)\}/);
    compiled.set(template, parts);
  }
  let out = parts[0];
  for (let i = 1; i < parts.length; i += 2) out += (vars[parts[i]] ?? '') + parts[i + 1];
  return out;
}

/** Words of generated text, which is single-spaced by construction. */
function words(sentence: string): number {
  let n = 1;
  for (let i = 0; i < sentence.length; i++) if (sentence.charCodeAt(i) === 32) n++;
  return n;
}

/** k distinct items by a partial Fisher-Yates: k draws instead of shuffling the whole list (generation speed). */
function pickDistinct<T>(rng: Rng, items: readonly T[], k: number): T[] {
  const pool = items.slice();
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  pool.length = n;
  return pool;
}

interface Response {
  text: string;
  /** Signed word count / 2 per dimension: exactly what the text expresses. */
  profile: number[];
  quality: number;
}

const MIN_WORDS = 20;
const MAX_WORDS = 50;

function makeResponse(rng: Rng, topic: string): Response {
  const quality = rng.normal();
  // 1-4 expressed dimensions, 1 or 2 words each, random sign.
  const dims = pickDistinct(
    rng,
    DIMENSIONS.map((_d, i) => i),
    1 + rng.int(4),
  );
  const values: { dim: number; sign: number; sentence: string; words: number }[] = dims.map((dim) => {
    const sign = rng.chance(0.5) ? 1 : -1;
    const pole = DIMENSIONS[dim].poles[sign > 0 ? 0 : 1];
    const n = rng.chance(0.5) ? 1 : 2;
    const [a, b] = pickDistinct(rng, pole.words, n);
    const sentence = n === 1 ? fill(rng.pick(VALUE_ONE), { a }) : fill(rng.pick(VALUE_TWO), { a, b });
    return { dim, sign, sentence, words: n };
  });
  const qualitySentences: string[] = [];
  const qWords = Math.abs(quality) > 1.2 ? 2 : Math.abs(quality) > 0.4 ? 1 : 0;
  for (let k = 0; k < qWords; k++) {
    const [a, b] = pickDistinct(rng, quality > 0 ? QUALITY_WORDS.good : QUALITY_WORDS.bad, 2);
    qualitySentences.push(fill(rng.pick(QUALITY_FRAMES), { a, b }));
  }
  const opening = fill(rng.pick(OPENINGS), { t: topic });
  const fillers = pickDistinct(rng, FILLERS, 3);
  const fixed = words(opening) + qualitySentences.reduce((n, q) => n + words(q), 0);
  let valueWords = values.reduce((n, v) => n + words(v.sentence), 0);
  let nClosing = 1;
  let closingWords = words(fillers[0]);
  while (fixed + valueWords + closingWords < MIN_WORDS && nClosing < fillers.length) closingWords += words(fillers[nClosing++]);
  if (fixed + valueWords + closingWords > MAX_WORDS) {
    nClosing = 0;
    closingWords = 0;
  }
  // Still too long: drop value sentences; the profile below is computed from what remains, so text and truth agree.
  while (fixed + valueWords > MAX_WORDS && values.length > 1) valueWords -= words(values.pop()?.sentence ?? '');
  rng.shuffle(values);
  const profile = DIMENSIONS.map(() => 0);
  for (const v of values) profile[v.dim] = (v.sign * v.words) / 2;
  const text = [opening, ...values.map((v) => v.sentence), ...qualitySentences, ...fillers.slice(0, nClosing)].join(' ');
  return { text, profile, quality };
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface SyntheticPrism {
  utterances: Record<string, unknown>[];
  survey: Record<string, unknown>[];
}

/** PRISM-schema rows (HF layout, field for field) with a planted cultural signal. Deterministic in `seed`. */
export function generateSyntheticPrism(seed: number, opts?: SyntheticOptions): SyntheticPrism {
  const o = { ...SYNTHETIC_DEFAULTS, ...opts };
  const rng = new Rng(seed);
  const vectors = plantedCountryVectors(o.divergence);
  const [minConv, maxConv] = o.conversations;

  // Users of all countries interleaved, as in PRISM, so row order says nothing about country.
  const countries: string[] = [];
  for (const [country, n] of Object.entries(COUNTRY_USERS)) {
    const count = o.scale === 1 ? n : Math.max(2, Math.round(n * o.scale));
    for (let i = 0; i < count; i++) countries.push(country);
  }
  rng.shuffle(countries);

  const utterances: Record<string, unknown>[] = [];
  const survey: Record<string, unknown>[] = [];
  let conversationNo = 0;
  let utteranceNo = 0;
  const countryNames = Object.keys(COUNTRY_USERS);

  countries.forEach((country, userNo) => {
    // The data seed is part of the id: synthetic:0 and synthetic:1000 are different people, and a global RM's
    // record of its training users (global.ts) must not match another population's users by accident.
    const userId = `s${seed}-user${userNo}`;
    const pref = vectors[country].map((v) => v + o.userSpread * rng.normal());
    const balanced = rng.chance(0.5);
    const nConv = minConv + rng.int(Math.max(1, maxConv - minConv + 1));
    const bornElsewhere = rng.chance(0.1);
    const birthCountry = bornElsewhere ? rng.pick(countryNames.filter((c) => c !== country)) : country;
    survey.push({
      user_id: userId,
      survey_only: false,
      num_completed_conversations: nConv,
      age: rng.pick(AGES),
      gender: rng.pick(GENDERS),
      education: rng.pick(EDUCATION),
      employment_status: rng.pick(EMPLOYMENT),
      marital_status: rng.pick(MARITAL),
      english_proficiency: rng.pick(ENGLISH),
      location: {
        birth_country: birthCountry,
        reside_country: country,
        reside_region: LOCATIONS[country].region,
        reside_subregion: LOCATIONS[country].subregion,
        same_birth_reside_country: bornElsewhere ? 'No' : 'Yes',
      },
      included_in_balanced_subset: balanced,
    });

    for (let c = 0; c < nConv; c++) {
      const conversationId = `c${conversationNo++}`;
      const conversationType = rng.pick(CONVERSATION_TYPES);
      const topic = rng.pick(TOPICS);
      const nTurns = 1 + rng.int(o.maxLaterTurns + 1);
      let models = pickDistinct(rng, MODELS, 4);
      for (let turn = 0; turn < nTurns; turn++) {
        const prompt = fill(rng.pick(turn === 0 ? PROMPTS : FOLLOW_UPS), { t: topic });
        const interactionId = `${conversationId}-${turn}`;
        const rows = models.map((model, within) => {
          const r = makeResponse(rng, topic);
          const raw = 50 + o.qualityWeight * r.quality + o.valueWeight * dot(pref, r.profile) + o.noise * rng.normal();
          const score = Math.round(Math.min(100, Math.max(1, raw)));
          return {
            utterance_id: `ut${utteranceNo++}`,
            interaction_id: interactionId,
            conversation_id: conversationId,
            user_id: userId,
            turn,
            within_turn_id: within,
            included_in_balanced_subset: balanced,
            conversation_type: conversationType,
            user_prompt: prompt,
            model_response: r.text,
            model_name: model[0],
            model_provider: model[1],
            score,
            if_chosen: false,
          };
        });
        // The highest-rated response continues the conversation (first on ties), as in PRISM.
        let best = 0;
        rows.forEach((row, i) => {
          if (row.score > rows[best].score) best = i;
        });
        rows[best].if_chosen = true;
        utterances.push(...rows);
        // PRISM's later turns show two samples from the chosen model.
        models = [models[best], models[best]];
      }
    }
  });
  return { utterances, survey };
}

/** One JSON object per line, newline-terminated: the HF JSONL layout. */
export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');
}

/**
 * Synthetic PRISM through the same validation and pair building as loadPrism. `seed` draws the users and texts
 * ("synthetic:7" is data seed 7); the train/test split is seeded by LoadOptions.seed (default 0, as for every
 * loader), which the CLI and the studio set to the run's seed, so one dataset can be split several ways.
 */
export async function loadSynthetic(seed: number, opts?: SyntheticOptions, loadOpts?: LoadOptions): Promise<PreferenceData> {
  const gen = generateSyntheticPrism(seed, opts);
  return buildPrism(
    {
      utterances: memoryRows('synthetic/utterances.jsonl', gen.utterances),
      survey: memoryRows('synthetic/survey.jsonl', gen.survey),
    },
    loadOpts,
    `synthetic:${seed}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// GlobalOpinionQA-schema CSV

const GOQA_QUESTIONS: readonly { text: string; options: readonly string[]; signs: readonly number[] }[] = [
  {
    text: 'How important is {a} compared with {b} in your daily life?',
    options: ['Mostly {a}', 'Mostly {b}', 'Both equally', "Don't know"],
    signs: [1, -1, 0, 0],
  },
  { text: 'Should people care more about {a} than about {b}?', options: ['Yes', 'No'], signs: [1, -1] },
  {
    text: 'Which matters more for your country: {a} or {b}?',
    options: ['{a}', '{b}', "Don't know / refused"],
    signs: [1, -1, 0],
  },
  {
    text: 'How much do you agree that {a} is more important than {b}?',
    options: ['Strongly agree', 'Somewhat agree', 'Somewhat disagree', 'Strongly disagree'],
    signs: [1, 0.5, -0.5, -1],
  },
];

function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Python's repr of a float as GOQA prints it (0.5, 0.123). */
function pyFloat(x: number): string {
  const s = String(Number(x.toFixed(3)));
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/**
 * Country names as GlobalOpinionQA writes them where they differ from PRISM's survey: its Pew (GAS) rows say
 * "Britain" (its WVS rows "Great Britain"); PRISM's reside_country says "United Kingdom".
 */
export const GOQA_COUNTRY_NAMES: Readonly<Record<string, string>> = { 'United Kingdom': 'Britain' };

/**
 * A global_opinions.csv-shaped file: each question contrasts two poles of one planted dimension; a country's answer
 * shares are a softmax of its planted vector on that dimension plus noise. Countries carry GOQA's names.
 */
export function generateSyntheticGoqaCsv(seed: number, nQuestions = 150): string {
  const rng = new Rng(seed);
  const vectors = plantedCountryVectors(1);
  const countries = Object.keys(COUNTRY_USERS);
  const rows: string[][] = [];
  for (let q = 0; q < nQuestions; q++) {
    const dim = rng.int(DIMENSIONS.length);
    const shape = rng.pick(GOQA_QUESTIONS);
    const a = rng.pick(DIMENSIONS[dim].poles[0].words);
    const b = rng.pick(DIMENSIONS[dim].poles[1].words);
    const options = shape.options.map((opt) => fill(opt, { a, b }));
    const parts = countries.map((country) => {
      const logits = shape.signs.map((s, k) => 1.5 * s * vectors[country][dim] + 0.3 * rng.normal() - (s === 0 && k > 1 ? 1 : 0));
      return `${pyRepr(GOQA_COUNTRY_NAMES[country] ?? country)}: [${softmax(logits).map(pyFloat).join(', ')}]`;
    });
    rows.push([
      fill(shape.text, { a, b }),
      `defaultdict(<class 'list'>, {${parts.join(', ')}})`,
      `[${options.map(pyRepr).join(', ')}]`,
      rng.chance(0.5) ? 'GAS' : 'WVS',
    ]);
  }
  return Papa.unparse({ fields: ['question', 'selections', 'options', 'source'], data: rows }, { newline: '\n' }) + '\n';
}
