// Test-only: the PRISM tables' HF parquet-mirror shape (nullable columns, `location` struct), for the writer.
import type { Column } from './parquet-writer.ts';

export const UTTERANCE_PARQUET_COLUMNS: Column[] = [
  { name: 'utterance_id', type: 'string' },
  { name: 'interaction_id', type: 'string' },
  { name: 'conversation_id', type: 'string' },
  { name: 'user_id', type: 'string' },
  { name: 'turn', type: 'int64' },
  { name: 'within_turn_id', type: 'int64' },
  { name: 'included_in_balanced_subset', type: 'boolean' },
  { name: 'conversation_type', type: 'string' },
  { name: 'user_prompt', type: 'string' },
  { name: 'model_response', type: 'string' },
  { name: 'model_name', type: 'string' },
  { name: 'model_provider', type: 'string' },
  { name: 'score', type: 'int64' },
  { name: 'if_chosen', type: 'boolean' },
];

export const SURVEY_PARQUET_COLUMNS: Column[] = [
  { name: 'user_id', type: 'string' },
  { name: 'survey_only', type: 'boolean' },
  { name: 'age', type: 'string' },
  { name: 'gender', type: 'string' },
  {
    name: 'location',
    children: [
      { name: 'birth_country', type: 'string' },
      { name: 'reside_country', type: 'string' },
      { name: 'reside_region', type: 'string' },
      { name: 'reside_subregion', type: 'string' },
      { name: 'same_birth_reside_country', type: 'string' },
    ],
  },
];

export function jsonlToRows(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
