// Tests of the Python-literal parser on GOQA-shaped cells, escapes, numbers, and malformed input.
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { parsePyLiteral, PyParseError, pyRepr, type PyValue } from './pylit.ts';

function dict(v: PyValue): Map<string, PyValue> {
  if (!(v instanceof Map)) throw new Error('not a dict');
  return v;
}

describe('parsePyLiteral: valid input', () => {
  it('parses a GOQA selections cell with apostrophes in double-quoted keys', () => {
    const v = dict(parsePyLiteral(`defaultdict(<class 'list'>, {'Belgium': [0.21, 0.79], "Côte d'Ivoire": [0.5, 0.5]})`));
    expect([...v.keys()]).toEqual(['Belgium', "Côte d'Ivoire"]);
    expect(v.get('Belgium')).toEqual([0.21, 0.79]);
    expect(v.get("Côte d'Ivoire")).toEqual([0.5, 0.5]);
  });

  it('parses an options cell with mixed quotes and escapes', () => {
    expect(parsePyLiteral(`['Yes', "Don't know", 'It\\'s', "say \\"hi\\"", 'back\\\\slash', 'tab\\there']`)).toEqual([
      'Yes',
      "Don't know",
      "It's",
      'say "hi"',
      'back\\slash',
      'tab\there',
    ]);
  });

  it('parses numbers: negatives, exponents, leading dot, underscores, nan, inf', () => {
    const v = parsePyLiteral('[-1, 2.5, -3e-2, 1E3, .5, 1_000, 7., nan, inf, -inf, +4]');
    expect(Array.isArray(v)).toBe(true);
    const a = v as number[];
    expect(a.slice(0, 7)).toEqual([-1, 2.5, -0.03, 1000, 0.5, 1000, 7]);
    expect(Number.isNaN(a[7])).toBe(true);
    expect(a[8]).toBe(Infinity);
    expect(a[9]).toBe(-Infinity);
    expect(a[10]).toBe(4);
  });

  it('parses unicode/hex/octal escapes, adjacent literals, tuples, constants, trailing commas', () => {
    expect(parsePyLiteral(`'\\u00e9\\x41\\101\\U0001F600'`)).toBe('éAA😀');
    expect(parsePyLiteral(`'ab' "cd"`)).toBe('abcd');
    expect(parsePyLiteral(`(1, 'a', None, True, False,)`)).toEqual([1, 'a', null, true, false]);
    expect(parsePyLiteral(`[1, [2, [3]], ]`)).toEqual([1, [2, [3]]]);
    expect(parsePyLiteral(`'unknown \\q escape'`)).toBe('unknown \\q escape');
    const d = dict(parsePyLiteral(`{ 'a' : 1 , 2: 'two', }`));
    expect(d.get('a')).toBe(1);
    expect(d.get('2')).toBe('two');
  });

  it('keeps dangerous keys as data', () => {
    const d = dict(parsePyLiteral(`{'__proto__': [1], 'constructor': [2]}`));
    expect(d.get('__proto__')).toEqual([1]);
    expect(d.get('constructor')).toEqual([2]);
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  });

  it('accepts empty containers and defaultdict without a dict', () => {
    expect(parsePyLiteral('[]')).toEqual([]);
    expect(dict(parsePyLiteral('{}')).size).toBe(0);
    expect(dict(parsePyLiteral(`defaultdict(<class 'list'>, {})`)).size).toBe(0);
    expect(dict(parsePyLiteral('defaultdict(list)')).size).toBe(0);
  });

  it('round-trips pyRepr for arbitrary strings', () => {
    const rng = new Rng(42);
    const alphabet = [..."ab '\"\\\n\t€éxyz"];
    for (let i = 0; i < 300; i++) {
      const s = Array.from({ length: rng.int(12) }, () => rng.pick(alphabet)).join('');
      expect(parsePyLiteral(pyRepr(s))).toBe(s);
    }
    expect(pyRepr("Don't")).toBe(`"Don't"`);
    expect(pyRepr('plain')).toBe(`'plain'`);
  });
});

describe('parsePyLiteral: malformed input', () => {
  const bad: [string, RegExp][] = [
    ['', /unexpected end of input/],
    [`'unterminated`, /unterminated string/],
    [`['a', 'b'`, /expected "," or "\]"/],
    [`{'a' 1}`, /expected ":"/],
    [`{'a': [0.2, 0.8}`, /expected "," or "\]"/],
    [`[1, 2] extra`, /after the value/],
    [`__import__('os').system('rm -rf /')`, /unknown name/],
    [`eval('1')`, /unknown name/],
    [`[1.2.3]`, /expected "," or "\]"/],
    [`[12abc]`, /bad number/],
    [`'bad \\x4'`, /bad \\x escape/],
    [`defaultdict(<class 'list'>, [1])`, /needs a dict/],
    [`defaultdict(<class 'list', {})`, /unterminated <class/],
    [`{[1]: 2}`, /dict keys/],
    [`-`, /bad number/],
    [`Yes, No`, /unknown name/],
  ];
  for (const [src, message] of bad) {
    it(`rejects ${JSON.stringify(src)}`, () => {
      let caught: unknown = null;
      try {
        parsePyLiteral(src);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(PyParseError);
      expect((caught as PyParseError).message).toMatch(message);
      expect((caught as PyParseError).offset).toBeGreaterThanOrEqual(0);
    });
  }
});
