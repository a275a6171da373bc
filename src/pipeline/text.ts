// Safe text for messages built from user data (ids, country names, file contents): control characters are escaped so
// nothing reaches a terminal raw (ANSI escapes, NUL, bidi overrides), and quoted content is capped so a binary or
// one-line file cannot turn an error into a 65,000-character message. Used by DataError/ConfigError, the issue
// collector and the CLI's output, so every message goes through it.

/** Longest piece of user content quoted in a message. */
export const MAX_QUOTED = 200;
/** Longest whole message (a DataError or a skipped-row example); the start, which names the problem, is kept. */
export const MAX_MESSAGE = 600;

// C0 and C1 controls, DEL, and the Unicode bidi/format overrides that can make a terminal line lie about its text.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control character written as an escape (\x1b, \n, \u202e); newlines too unless `keepNewlines`. */
export function escapeControls(s: string, keepNewlines = false): string {
  return s.replace(CONTROL, (ch) => (keepNewlines && ch === '\n' ? ch : escapeOne(ch)));
}

/** At most `max` characters of `s` (code points are not split), with the number left out. No escaping. */
export function cap(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // keep a surrogate pair whole
  return `${s.slice(0, cut)}… (${s.length - cut} more characters)`;
}

/** A piece of user content for a message: capped, then control characters escaped. */
export function quoteText(s: string, max = MAX_QUOTED): string {
  return escapeControls(cap(s, max));
}

/** A whole message: control characters escaped (newlines too unless `keepNewlines`) and its length capped. */
export function safeMessage(s: string, keepNewlines = false, max = MAX_MESSAGE): string {
  return escapeControls(cap(s, max), keepNewlines);
}
